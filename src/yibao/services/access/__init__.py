"""Who may do what: API keys, roles, the hospital boundary, masking, the audit log
(``rights``); unmasked output, allowed and audited (``disclosure``); the console's people,
their passwords, sign-in and lock-out (``users``); the national gateway's clients and
9001/9002 sign-ins (``gateway``)."""

from yibao.services.access.disclosure import masked_ids, record_unmasked
from yibao.services.access.gateway import authenticate_gateway, check_sign_no
from yibao.services.access.rights import (
    Principal,
    audit,
    authenticate,
    create_key,
    list_keys,
    own,
    require,
    revoke_key,
)
from yibao.services.access.users import (
    create_user,
    demo_users,
    disable_user,
    list_users,
    reset_password,
    sign_in,
    sign_out,
)

__all__ = ["Principal", "audit", "authenticate", "authenticate_gateway", "check_sign_no",
           "create_key", "create_user", "demo_users",
           "disable_user", "list_keys", "list_users", "masked_ids", "own", "record_unmasked",
           "require", "reset_password", "revoke_key", "sign_in", "sign_out"]  # fmt: skip
