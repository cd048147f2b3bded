"""Sign-in accounts for a new install: one per role, each with its own random password.

No password is fixed or committed. The generated ones are kept (mode 600) in
the data folder so the run command can show them again on every start.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from postmortems.choices import Role


@dataclass
class Account:
    username: str
    role: str
    password: str


def ensure_demo_accounts(credentials_file: Path) -> list[Account]:
    """Create any missing role account and return every account's first password."""
    User = get_user_model()
    known = read_credentials(credentials_file)
    for role in Role:
        username = role.value
        if User.objects.filter(username=username).exists():
            continue
        password = secrets.token_urlsafe(12)
        user = User.objects.create_user(
            username=username,
            password=password,
            is_staff=role == Role.ADMIN,
            is_superuser=role == Role.ADMIN,
        )
        user.groups.add(Group.objects.get(name=role.value))
        known[username] = Account(username, role.value, password)
    write_credentials(credentials_file, known)
    return list(known.values())


def read_credentials(path: Path) -> dict[str, Account]:
    if not path.exists():
        return {}
    accounts = {}
    for line in path.read_text().splitlines():
        username, role, password = line.split("\t")
        accounts[username] = Account(username, role, password)
    return accounts


def write_credentials(path: Path, accounts: dict[str, Account]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600, exist_ok=True)
    path.write_text("".join(f"{a.username}\t{a.role}\t{a.password}\n" for a in accounts.values()))
