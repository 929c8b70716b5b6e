"""pulumi-llm: Pulumi components that deploy Large Language Models four ways.

The version lives here (hatch reads it for the distribution) so that importing the package costs
no metadata scan.
"""

__version__ = "0.1.0"
