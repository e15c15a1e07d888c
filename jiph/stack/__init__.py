"""The local stack: a real Kafka broker, PostgreSQL and the four services (`jiph up`)."""
