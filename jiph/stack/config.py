"""Where each local stack keeps its state, and which ports it uses.

Two stacks exist side by side: `dev` (what `make up` runs) and `test` (what `make test` runs). They
share nothing: other ports, another PostgreSQL cluster, another state folder, so the tests never
touch the data a developer is looking at.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
KAFKA_VERSION = "4.1.1"
KEYCLOAK_VERSION = "26.5.6"
SERVICE_NAMES = ("intake", "triage", "deployment", "reporting")


def cache_dir() -> Path:
    """Downloads (the Kafka jars) live outside the source tree and survive `git clean`."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "jiph"


@dataclass(frozen=True)
class StackConfig:
    name: str
    kafka_port: int
    controller_port: int
    pg_port: int
    service_ports: dict[str, int]
    #: The OpenID Connect provider (Keycloak) on this port, its management (health) one above.
    keycloak_port: int
    #: Test clusters trade durability for speed; the `make up` stack never does.
    pg_durable: bool = True
    state_root: Path = field(default_factory=lambda: REPO_ROOT / ".state")
    #: The brokers' addresses when the stack runs several (jiph/stack/cluster.py), each in a
    #: network namespace of its own listening on `kafka_port`; empty: one broker on loopback.
    kafka_hosts: tuple[str, ...] = ()
    #: Where the services reach PostgreSQL; it listens there besides loopback, and accepts
    #: `client_network` (the cluster's bridge) as well.
    pg_host: str = "127.0.0.1"
    client_network: str | None = None
    #: The stack's SMTP receiver (staff e-mail, jiph/stack/mailbox.py); 0: none.
    smtp_port: int = 0
    #: A port on loopback that the services' webhooks may reach (the development allow-list),
    #: for a receiver a developer or a test runs; 0: none.
    webhook_sink_port: int = 0
    #: Webhook retries within a second or two instead of minutes (test stacks).
    quick_retries: bool = False

    @property
    def state_dir(self) -> Path:
        return Path(os.environ.get("JIPH_STATE_DIR", self.state_root / self.name))

    @property
    def run_dir(self) -> Path:
        return self.state_dir / "run"

    @property
    def log_dir(self) -> Path:
        return self.state_dir / "logs"

    @property
    def kafka_data_dir(self) -> Path:
        return self.state_dir / "kafka" / "data"

    @property
    def pg_cluster(self) -> str:
        return f"jiph_{self.name}"

    @property
    def mail_dir(self) -> Path:
        """Where the SMTP receiver keeps what it got: a maildir."""
        return self.state_dir / "mail"

    @property
    def dev_key_file(self) -> Path:
        return self.state_dir / "keys" / "dev-signing-key.pem"

    def checkpoint_key_file(self, service: str) -> Path:
        """The key that signs `service`'s history checkpoints (shared/history)."""
        return self.state_dir / "keys" / f"checkpoint-{service}.pem"

    @property
    def external_kafka(self) -> str | None:
        """A broker the user points at; the stack then starts none of its own."""
        return os.environ.get("KAFKA_BOOTSTRAP_SERVERS") or None

    @property
    def kafka_bootstrap(self) -> str:
        """The bootstrap list clients get: every broker of a cluster, so that any one may die."""
        hosts = self.kafka_hosts or ("127.0.0.1",)
        return self.external_kafka or ",".join(f"{h}:{self.kafka_port}" for h in hosts)

    @property
    def is_cluster(self) -> bool:
        return len(self.kafka_hosts) > 1

    @property
    def external_database_url(self) -> str | None:
        """An admin URL of a PostgreSQL server the user points at."""
        return os.environ.get("DATABASE_URL") or None


def _spare_test_stack(name: str, base: int, pg_port: int) -> StackConfig:
    """A test stack whose ports all sit at `base` + the dev stack's last digits."""
    return StackConfig(
        name=name,
        kafka_port=base + 92,
        controller_port=base + 93,
        pg_port=pg_port,
        service_ports={service: base + i for i, service in enumerate(SERVICE_NAMES, start=1)},
        keycloak_port=base + 180,
        pg_durable=False,
        smtp_port=base + 25,
        webhook_sink_port=base + 70,
        quick_retries=True,
    )


# Every port below Linux's ephemeral range (32768-60999): a port in it may be the local end of
# some client connection at the moment a server wants to listen on it (PostgreSQL once failed
# to start on 55434 that way).
STACKS = {
    "dev": StackConfig(
        name="dev",
        kafka_port=9092,
        controller_port=9093,
        pg_port=25432,
        service_ports={"intake": 8001, "triage": 8002, "deployment": 8003, "reporting": 8004},
        keycloak_port=8180,
        smtp_port=8025,
        webhook_sink_port=8070,
    ),
    "test": StackConfig(
        name="test",
        kafka_port=19092,
        controller_port=19093,
        pg_port=25433,
        service_ports={"intake": 18001, "triage": 18002, "deployment": 18003, "reporting": 18004},
        keycloak_port=18180,
        pg_durable=False,
        smtp_port=18025,
        webhook_sink_port=18070,
        quick_retries=True,
    ),
    # Used by the tests of `jiph up/down/status` themselves, beside a running test stack.
    "scratch": StackConfig(
        name="scratch",
        kafka_port=29092,
        controller_port=29093,
        pg_port=25434,
        service_ports={"intake": 28001, "triage": 28002, "deployment": 28003, "reporting": 28004},
        keycloak_port=28180,
        pg_durable=False,
    ),
    # Spare test stacks, so that several checkouts (git worktrees) can run their suites at once:
    # `JIPH_TEST_STACK=test-b make test`.
    **{
        name: _spare_test_stack(name, base, pg_port)
        for name, base, pg_port in (
            ("test-b", 21000, 25435),
            ("test-c", 23000, 25436),
            ("test-d", 22000, 25438),
            ("test-e", 24000, 25439),
            ("test-f", 26000, 25440),
            ("test-g", 20000, 25442),
        )
    },
    # `make bench`: a stack of its own at the dev stack's durability, reset before and after, so
    # that no benchmark meets what another wrote or what a developer's dev stack runs.
    "bench": StackConfig(
        name="bench",
        kafka_port=27092,
        controller_port=27093,
        pg_port=25441,
        service_ports={"intake": 27001, "triage": 27002, "deployment": 27003, "reporting": 27004},
        keycloak_port=27180,
    ),
    # Three brokers and two instances of each service, every one in a network namespace of its
    # own on the bridge 10.77.0.0/24 (jiph/stack/cluster.py), for fault injection between nodes.
    # Ports inside the namespaces clash with nothing; PostgreSQL's is in the root namespace.
    "cluster": StackConfig(
        name="cluster",
        kafka_port=9092,
        controller_port=9093,
        pg_port=25437,
        service_ports={"intake": 8001, "triage": 8002, "deployment": 8003, "reporting": 8004},
        keycloak_port=25180,  # unused: the cluster runs without identity provider
        pg_durable=False,
        kafka_hosts=("10.77.0.11", "10.77.0.12", "10.77.0.13"),
        pg_host="10.77.0.1",
        client_network="10.77.0.0/24",
    ),
}


def stack_config(name: str | None = None) -> StackConfig:
    return STACKS[name or os.environ.get("JIPH_STACK", "dev")]
