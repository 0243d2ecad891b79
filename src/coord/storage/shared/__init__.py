"""Store methods written once for both dialects, over the narrow interface each
dialect's connection class provides (its named queries and a way to run them)."""
