"""What Kubernetes admission enforces on a pod: the Pod Security Standards levels and the security-context
combinations the API server's validation refuses whatever the namespace.

Pod Security Standards, as the built-in PodSecurity admission plugin checks them:
kubernetes/kubernetes, staging/src/k8s.io/pod-security-admission/policy/check_*.go (master, read 2026-12;
the checks are versioned from 1.0 and unchanged for the fields below since 1.25). Validation:
kubernetes/kubernetes, pkg/apis/core/validation/validation.go, ValidateSecurityContext (master, read
2026-12; same rules since 1.8).
"""

from __future__ import annotations

LEVEL_LABEL = "pod-security.kubernetes.io/enforce"
"""The namespace label that sets the enforced level (pod-security-admission/api/constants.go)."""

LEVELS = ("privileged", "baseline", "restricted")
"""From least to most strict; each level includes every check of the ones before it."""

DEFAULT_LEVEL = "privileged"
"""A namespace without the label: the plugin's default AdmissionConfiguration enforces `privileged`
(pod-security-admission/admission/api defaults). Clusters that configure another default are out of scope."""

BASELINE_CAPABILITIES = frozenset({
    "AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD",
    "NET_BIND_SERVICE", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT",
})
"""capabilities.add beyond these fails baseline (policy/check_capabilities_baseline.go)."""

RESTRICTED_CAPABILITIES = frozenset({"NET_BIND_SERVICE"})
"""The only capability restricted lets a container add; it must also drop ALL
(policy/check_capabilities_restricted.go)."""

RESTRICTED_VOLUME_TYPES = frozenset({
    "configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim", "projected", "secret",
})
"""The only volume sources restricted admits (policy/check_restrictedVolumes.go); baseline forbids hostPath
alone (policy/check_hostPathVolumes.go)."""

RESTRICTED_SECCOMP_TYPES = frozenset({"RuntimeDefault", "Localhost"})
"""restricted needs one of these at pod level or on every container (policy/check_seccompProfile_restricted.go);
baseline only forbids Unconfined (policy/check_seccompProfile_baseline.go)."""

SYS_ADMIN_WITHOUT_ESCALATION = "CAP_SYS_ADMIN"
"""ValidateSecurityContext refuses allowPrivilegeEscalation false with this capability added — compared
literally, so the spelling "SYS_ADMIN" (what charts use) passes validation. It also refuses
allowPrivilegeEscalation false with privileged true."""
