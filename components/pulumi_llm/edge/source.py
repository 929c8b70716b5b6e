"""The llama.cpp source the edge image builds from (pure data: settings and the image both read it)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class LlamaCppSource(BaseModel):
    """Where the image's llama.cpp tree comes from: a llama-cpp-python sdist, which vendors llama.cpp.

    llama.cpp's GitHub archives are generated on request and have no published checksum; a PyPI file
    has one (PyPI's JSON/simple API lists its sha256), so the build verifies the sdist and compiles its
    `vendor/llama.cpp`. tests/integration/support/llamacpp_build.py builds and serves the same file.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: str = Field(description="llama-cpp-python version, e.g. 0.3.36.")
    url: str = Field(description="https URL of its sdist on files.pythonhosted.org (PyPI lists it).")
    sha256: str = Field(description="sha256 PyPI publishes for that file.")
    commit: str = Field(description="The llama.cpp commit the sdist vendors (its CHANGELOG); the image's version label.")


LLAMA_CPP_SOURCE = LlamaCppSource(
    version="0.3.36",
    url=(
        "https://files.pythonhosted.org/packages/ec/e9/e7de2b0463ea3ffbf0ede6cb21b58c1258a8f6521aae45ca773a59fe7cf3/"
        "llama_cpp_python-0.3.36.tar.gz"
    ),
    # PyPI simple API (application/vnd.pypi.simple.v1+json) for llama-cpp-python, uploaded 2026-10-01.
    sha256="832db0699007f1be95a7e41ef12e88926b02ba836461e36a36372db2760c1a2e",
    commit="0c1e57098",
)
"""The default source: the Dockerfile's ARG defaults and the integration build use the same file."""

__all__ = ["LLAMA_CPP_SOURCE", "LlamaCppSource"]
