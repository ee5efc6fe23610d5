"""What the chat reads from outside its code: scenario packs on disk."""
