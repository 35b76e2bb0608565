"""App Home: the read model behind each user's Home tab and the publisher that renders and sends it."""
