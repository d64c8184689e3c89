"""The policy engine over Cedar and its governance services: reviews, kill switches, hot reload."""
