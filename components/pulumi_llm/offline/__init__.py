"""The offline plan: the stack program under Pulumi's mock runtime, recorded and rendered to files."""
