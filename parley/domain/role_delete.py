"""Deleting a role: refused while anything references it (docs/behaviour.md
§A7). It asks the modules whose rows hold roles (users, members, invites),
above them all, since each of them imports ``roles``."""

from parley.domain import invites, members, roles, services, users
from parley.store import Tx


async def delete(tx: Tx, service: services.Service, role: roles.RoleRow) -> None:
    roles.check_not_a_default(service, role)
    sid = role["sid"]
    for holds, what in (
        (users.holding_role, "a user"),
        (members.holding_role, "a member"),
        (invites.holding_role, "an invite"),
    ):
        if await holds(tx, sid):
            raise roles.in_use(f"{what} holds it")
    await roles.delete_row(tx, sid)
