"""The launcher's room: read a bundle, verify it, apply it, exec. Standard library + ctypes only.

Nothing in this package may import lark, pydantic, jinja2 or any compiler module.
"""
