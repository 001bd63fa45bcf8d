"""S3's naming rules for bucket names and object keys: one copy for `smflow validate` and the local object store.

Bucket names follow Amazon S3's general purpose bucket naming rules
(https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html). Keys may hold any UTF-8 on S3
(https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-keys.html), but the local store maps each key to a
file under its root, so keys that would name a different file than they say — `.`/`..` segments, written or
percent-encoded, encoded separators, backslashes, NUL and other control characters — are refused there.
Import-light on purpose: the local job runner imports it and must start fast.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import unquote

BUCKET_MIN, BUCKET_MAX = 3, 63
KEY_MAX_BYTES = 1024  # S3's limit on an object key's UTF-8 length
NAME_MAX = 255  # bytes per file name on Linux (<linux/limits.h>): one key segment becomes one file name

_BUCKET_CHARS = re.compile(r"[a-z0-9.-]+")
_RESERVED_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
_RESERVED_SUFFIXES = ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")


def bucket_name_problem(name: str) -> str | None:
    """Why `name` is not a valid S3 bucket name, or None."""
    if not BUCKET_MIN <= len(name) <= BUCKET_MAX:
        return f"bucket name {name!r} must be {BUCKET_MIN} to {BUCKET_MAX} characters long (it has {len(name)})"
    if not _BUCKET_CHARS.fullmatch(name):
        return f"bucket name {name!r} may only contain lowercase letters, digits, dots (.) and hyphens (-)"
    if not (name[0].isalnum() and name[-1].isalnum()):
        return f"bucket name {name!r} must begin and end with a letter or digit"
    if ".." in name:
        return f"bucket name {name!r} must not contain two adjacent dots"
    try:
        ipaddress.IPv4Address(name)
    except ValueError:
        pass
    else:
        return f"bucket name {name!r} must not be formatted as an IP address"
    for prefix in _RESERVED_PREFIXES:
        if name.startswith(prefix):
            return f"bucket name {name!r} must not start with the reserved prefix {prefix!r}"
    for suffix in _RESERVED_SUFFIXES:
        if name.endswith(suffix):
            return f"bucket name {name!r} must not end with the reserved suffix {suffix!r}"
    return None


def key_problem(key: str) -> str | None:
    """Why the local store cannot map `key` to a file inside its bucket folder, or None."""
    if len(key.encode("utf-8", "surrogatepass")) > KEY_MAX_BYTES:
        return f"the key is longer than S3's {KEY_MAX_BYTES} bytes"
    bad = next((ch for ch in key if ord(ch) < 0x20 or ord(ch) == 0x7F), None)
    if bad is not None:
        return f"the key contains the control character U+{ord(bad):04X}; remove it"
    if "\\" in key:
        return "the key contains a backslash; use '/' between folders"
    for segment in key.split("/"):
        decoded = unquote(segment)
        if segment in {".", ".."}:
            return "'.' and '..' are not allowed in keys (as folders they would name another object)"
        if decoded in {".", ".."}:
            return f"the key segment {segment!r} is a percent-encoded '{decoded}'; write the real name"
        if decoded != segment and any(ch in decoded for ch in "/\\\x00"):
            return f"the key segment {segment!r} holds a percent-encoded separator or NUL; write '/' itself"
        if len(segment.encode("utf-8", "surrogatepass")) > NAME_MAX:
            return f"a key segment is longer than {NAME_MAX} bytes, which the local store cannot hold as a file name"
    return None


def split_s3_uri(uri: str) -> tuple[str, str]:
    """`s3://bucket/a/b` → (`bucket`, `a/b`), only the scheme checked (ValueError otherwise): the one split
    both executors use; the local store then applies the naming rules above."""
    if not isinstance(uri, str) or not uri.startswith("s3://"):
        raise ValueError(f"{uri!r} is not an s3:// URI")
    bucket, _, key = uri[len("s3://"):].partition("/")
    return bucket, key
