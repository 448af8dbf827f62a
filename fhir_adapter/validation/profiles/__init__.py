"""Profile validation: IG packages compiled to tables, and the walk that checks resources
against them (see ``packages``, ``compiler``, ``load``, ``walk``; ``generate`` writes the
shipped tables)."""
