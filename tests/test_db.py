from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError, StatementError
from sqlmodel import Session, select

from tools import db
from tools.models import Account, Contract, Ticket


def test_schema_is_at_head(engine: Engine) -> None:
    assert db.current_revision(engine) == db.head_revision(engine)
    assert db.upgrade(engine) is False


def test_money_round_trips_as_decimal(session: Session) -> None:
    acct = Account(external_id="a1", name="Acme")
    session.add(acct)
    session.flush()
    assert acct.id is not None
    session.add(
        Contract(
            external_id="c1",
            account_id=acct.id,
            arr=Decimal("120000.55"),
            seats_purchased=100,
            start_date=date(2026, 1, 1),
            end_date=date(2026, 12, 31),
        )
    )
    session.commit()
    session.expire_all()
    got = session.exec(select(Contract)).one()
    assert got.arr == Decimal("120000.55")
    assert isinstance(got.arr, Decimal)


def test_datetimes_come_back_utc_aware(session: Session) -> None:
    acct = Account(external_id="a1", name="Acme")
    session.add(acct)
    session.flush()
    assert acct.id is not None
    paris = timezone(timedelta(hours=1))
    session.add(
        Ticket(
            external_id="t1", account_id=acct.id, opened_at=datetime(2026, 3, 1, 10, tzinfo=paris)
        )
    )
    session.commit()
    session.expire_all()
    got = session.exec(select(Ticket)).one()
    assert got.opened_at == datetime(2026, 3, 1, 9, tzinfo=UTC)
    assert got.opened_at.tzinfo is not None


def test_naive_datetime_is_refused(session: Session) -> None:
    acct = Account(external_id="a1", name="Acme")
    session.add(acct)
    session.flush()
    assert acct.id is not None
    session.add(Ticket(external_id="t1", account_id=acct.id, opened_at=datetime(2026, 3, 1, 10)))
    with pytest.raises(StatementError):
        session.commit()


def test_foreign_keys_are_enforced(session: Session) -> None:
    session.add(
        Contract(
            external_id="c1",
            account_id=999,
            start_date=date(2026, 1, 1),
            end_date=date(2026, 12, 31),
        )
    )
    with pytest.raises(IntegrityError):
        session.commit()


def test_sqlite_uses_wal(sqlite_engine: Engine) -> None:
    with sqlite_engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_normalise_url_uses_psycopg3() -> None:
    assert db.normalise_url("postgres://u@h/d") == "postgresql+psycopg://u@h/d"
    assert db.normalise_url("postgresql://u@h/d") == "postgresql+psycopg://u@h/d"
    assert db.normalise_url("sqlite:///x.db") == "sqlite:///x.db"


def test_migrations_match_the_models(engine: Engine) -> None:
    """Every table and column in tools.models is created by the Alembic migrations."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext
    from sqlmodel import SQLModel

    import tools.models  # noqa: F401

    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
    structural = [
        d for d in diff if d[0] in {"add_table", "remove_table", "add_column", "remove_column"}
    ]
    assert structural == []
