"""Who may do what: API keys, roles, the hospital boundary, masking, the audit log
(``rights``); unmasked output, allowed and audited (``disclosure``)."""

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

__all__ = ["Principal", "audit", "authenticate", "authenticate_gateway", "check_sign_no",
           "create_key", "list_keys", "masked_ids",
           "own", "record_unmasked", "require", "revoke_key"]  # fmt: skip
