"""Entry point of the component provider: the Pulumi language host runs `python <this directory>`.

The directory is sys.path[0] then, so the package is imported by its full name (it is installed in
the environment `uv sync` builds from the repository's lock file).
"""

from pulumi_llm.provider.components import host

if __name__ == "__main__":
    host()
