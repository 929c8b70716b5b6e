"""Every rule family, one import line each (the registry's only list)."""

# ruff: noqa: F401
from . import provider_models
from . import ci_reachability
from . import references
from . import network_kubernetes
from . import observability
from . import network_aws
from . import admission
from . import identity_aws
from . import iam_documents
from . import network_gcp
from . import identity_gcp
from . import network_azure
from . import identity_azure
from . import versions
from . import wiring
