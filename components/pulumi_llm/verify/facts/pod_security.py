"""What Kubernetes admission enforces on a pod: the Pod Security Standards levels and the security-context
combinations the API server's validation refuses whatever the namespace.

Pod Security Standards, as the built-in PodSecurity admission plugin checks them:
kubernetes/kubernetes, staging/src/k8s.io/pod-security-admission/policy/check_*.go (master; e.g.
check_capabilities_baseline.go at 003effe9fcc1bd704fbad3fa0ae87433db1166b4, check_restrictedVolumes.go at
13a1804a5f5354f543979f6ee5b13bf1d7efe7f7; each check is versioned, these from policy version 1.0 or 1.22).
Validation: kubernetes/kubernetes, pkg/apis/core/validation/validation.go, ValidateSecurityContext at commit
000f26050b9be6fb3d79fae95e06b47fc96128cd.
"""

from __future__ import annotations

LEVEL_LABEL = "pod-security.kubernetes.io/enforce"
"""The namespace label that sets the enforced level (pod-security-admission/api/constants.go)."""

LEVELS = ("privileged", "baseline", "restricted")
"""From least to most strict; each level includes every check of the ones before it."""

DEFAULT_LEVEL = "privileged"
"""A namespace without the label: the plugin's default AdmissionConfiguration enforces `privileged`
(pod-security-admission/admission/api defaults). Clusters that configure another default are out of scope."""

BASELINE_CAPABILITIES = frozenset(
    {
        "AUDIT_WRITE",
        "CHOWN",
        "DAC_OVERRIDE",
        "FOWNER",
        "FSETID",
        "KILL",
        "MKNOD",
        "NET_BIND_SERVICE",
        "SETFCAP",
        "SETGID",
        "SETPCAP",
        "SETUID",
        "SYS_CHROOT",
    }
)
"""capabilities.add beyond these fails baseline (policy/check_capabilities_baseline.go)."""

RESTRICTED_CAPABILITIES = frozenset({"NET_BIND_SERVICE"})
"""The only capability restricted lets a container add; it must also drop ALL
(policy/check_capabilities_restricted.go)."""

RESTRICTED_VOLUME_TYPES = frozenset(
    {
        "configMap",
        "csi",
        "downwardAPI",
        "emptyDir",
        "ephemeral",
        "persistentVolumeClaim",
        "projected",
        "secret",
    }
)
"""The only volume sources restricted admits (policy/check_restrictedVolumes.go); baseline forbids hostPath
alone (policy/check_hostPathVolumes.go)."""

RESTRICTED_SECCOMP_TYPES = frozenset({"RuntimeDefault", "Localhost"})
"""restricted needs one of these at pod level or on every container (policy/check_seccompProfile_restricted.go);
baseline only forbids Unconfined (policy/check_seccompProfile_baseline.go)."""

SYS_ADMIN_WITHOUT_ESCALATION = "CAP_SYS_ADMIN"
"""ValidateSecurityContext refuses allowPrivilegeEscalation false with this capability added — compared
literally, so the spelling "SYS_ADMIN" (what charts use) passes validation. It also refuses
allowPrivilegeEscalation false with privileged true, and procMount Unmasked unless the pod sets
hostUsers: false."""

UNMASKED_PROC_MOUNT = "Unmasked"
"""Baseline admits only procMount Default (policy/check_procMount.go)."""
