"""The policy language's front end: Lark parse tree → AST with source spans."""
