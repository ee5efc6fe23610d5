"""What the customer sees: the pages' words, dates, timeline and theme, scenario texts
rendered in the merchant's voice, and the HTML pages themselves."""
