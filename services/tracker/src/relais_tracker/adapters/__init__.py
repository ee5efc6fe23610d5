"""What talks to the outside in its own format: carrier payload readers (`carriers`, one
module per carrier, registered in its package), the carrier pull API client
(`carrier_poller`) and the carrier webhook credential checks (`webhook_auth`)."""
