"""Validated name types of the stack file: Kubernetes object names, label keys and values, host names, URLs,
tag keys. Each is a `str` with an AfterValidator, so the JSON Schema stays `type: string` and a bad value is
refused by the schema pass with the key the user wrote.

The rules are Kubernetes' own (kubernetes/apimachinery pkg/util/validation/validation.go: IsDNS1123Subdomain,
IsQualifiedName, IsValidLabelValue) and RFC 1123 host names, as the API server and ingress controllers apply
them at deploy time.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Annotated

from pydantic import AfterValidator

from ..validation import DNS1123_LABEL

_DNS1123_LABEL = DNS1123_LABEL.pattern.removeprefix("^").removesuffix("$")  # one home: pulumi_llm/validation.py
_DNS1123_SUBDOMAIN = re.compile(rf"^{_DNS1123_LABEL}(\.{_DNS1123_LABEL})*$")
_QUALIFIED_NAME = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")
_HOST_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
_URL = re.compile(r"^https?://(?P<host>[A-Za-z0-9.-]+|\[[0-9A-Fa-f:]+\])(:(?P<port>\d{1,5}))?(/[^\s]*)?$")
_RESERVED_TAG_PREFIXES = ("aws:", "pulumi-llm:", "kubernetes.io/", "k8s.io/", "pulumi-llm.dev/", "app.kubernetes.io/")


def kube_name_problem(value: str) -> str | None:
    """A Kubernetes object name (Secret, IngressClass): a DNS-1123 subdomain."""
    if len(value) > 253 or not _DNS1123_SUBDOMAIN.match(value):
        return "a Kubernetes name: lower-case letters, digits, '-' and '.', starting and ending with a letter or digit, at most 253"
    return None


def label_key_problem(value: str) -> str | None:
    """A Kubernetes label key: an optional DNS-subdomain prefix and '/', then a name of at most 63 characters."""
    prefix, slash, name = value.rpartition("/")
    if (slash and (not prefix or kube_name_problem(prefix))) or not name or len(name) > 63 or not _QUALIFIED_NAME.match(name):
        return (
            "a Kubernetes label key: [prefix/]name, the name at most 63 letters, digits, '-', '_' or '.' starting and ending "
            "with a letter or digit, the prefix a DNS subdomain such as example.com"
        )
    return None


def label_value_problem(value: str) -> str | None:
    """A Kubernetes label value: empty, or at most 63 letters, digits, '-', '_', '.' starting and ending alphanumeric."""
    if value and (len(value) > 63 or not _QUALIFIED_NAME.match(value)):
        return "a Kubernetes label value: at most 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit"
    return None


def host_name_problem(value: str) -> str | None:
    """A DNS host name such as llm.example.com (a leading `*.` allowed): no scheme, port, path or underscore."""
    name = value.removeprefix("*.")
    labels = name.split(".")
    if "://" in value or len(name) > 253 or len(labels) < 2 or not all(_HOST_LABEL.match(label) for label in labels):
        return (
            "a lower-case DNS host name such as llm.example.com: labels of letters, digits and '-' joined by single dots; "
            "no scheme, port, path or underscore"
        )
    return None


def http_url_problem(value: str) -> str | None:
    """An http:// or https:// URL with a host (and optionally a port and path)."""
    match = _URL.match(value)
    if match is None or (match.group("port") is not None and not 1 <= int(match.group("port")) <= 65535):
        return "an http:// or https:// URL such as http://prometheus.monitoring.svc:9090"
    return None


def tag_key_problem(value: str) -> str | None:
    """A tag key every target takes: a Kubernetes label key (AWS and Azure tags allow those characters too),
    not one of the prefixes AWS, Kubernetes or pulumi-llm reserve."""
    if value.lower().startswith(_RESERVED_TAG_PREFIXES):
        return f"a reserved prefix ({', '.join(_RESERVED_TAG_PREFIXES)}); choose your own key"
    return label_key_problem(value)


def tag_value_problem(value: str) -> str | None:
    """A tag value: at most 256 characters (AWS), without control characters."""
    if len(value) > 256 or any(ord(c) < 32 for c in value):
        return "at most 256 characters, no control characters"
    return None


def non_blank_problem(value: str) -> str | None:
    if not value.strip() or value != value.strip():
        return "must not be blank or have surrounding spaces"
    return None


def absolute_path_problem(value: str) -> str | None:
    """An absolute POSIX directory on the node, without '..' segments."""
    if not value.startswith("/") or ".." in value.split("/") or any(c.isspace() or ord(c) < 32 for c in value):
        return "an absolute directory such as /var/lib/pulumi-llm/models (no '..', no spaces)"
    return None


def _checked(problem: Callable[[str], str | None]) -> AfterValidator:
    def check(value: str) -> str:
        found = problem(value)
        if found is not None:
            raise ValueError(found)
        return value

    return AfterValidator(check)


KubeName = Annotated[str, _checked(kube_name_problem)]
"""A Kubernetes object name (Secret, IngressClass)."""
LabelKey = Annotated[str, _checked(label_key_problem)]
LabelValue = Annotated[str, _checked(label_value_problem)]
HostName = Annotated[str, _checked(host_name_problem)]
HttpUrl = Annotated[str, _checked(http_url_problem)]
TagKey = Annotated[str, _checked(tag_key_problem)]
TagValue = Annotated[str, _checked(tag_value_problem)]
NonBlank = Annotated[str, _checked(non_blank_problem)]
AbsolutePath = Annotated[str, _checked(absolute_path_problem)]
