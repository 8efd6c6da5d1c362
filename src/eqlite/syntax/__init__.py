"""Syntax: the EQL grammar (data), the AST, the parser and the printer."""
