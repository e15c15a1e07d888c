"""The local stack: a real Kafka broker, a real PostgreSQL and the four services, run by `jiph up`."""
