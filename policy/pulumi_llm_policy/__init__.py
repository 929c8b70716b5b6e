"""pulumi-llm's CrossGuard rules as pure functions over plain resource dicts.

A resource dict has the shape of one entry of the offline plan's ``resources.json``:
``{"urn", "type", "name", "parent", "inputs"}`` with camelCase inputs. ``__main__.py`` builds the same
dicts from Pulumi's validation args (see ``adapter.py``), so one set of functions runs under
``pulumi preview --policy-pack policy`` and in the tests.
"""
