"""pulumi-llm as a Pulumi package: the components for TypeScript, Go, YAML, C# and Java programs.

`pulumi package add` runs this directory (PulumiPlugin.yaml + __main__.py) as a component provider;
the package schema is inferred from the adapters in `components.py`, thin shells that take plain
TypedDict args, validate them exactly as a stack file is validated, and build the real components.
Nothing is imported here, so `import pulumi_llm.provider` stays cheap.
"""
