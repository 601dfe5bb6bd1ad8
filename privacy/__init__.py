"""The trust layer: consent, erasure and suppression, PII detection and masking, the audit log.

Every path by which data leaves Kindred (segment exports, the CRM tables and their mirror,
grounding, the API and MCP server, LLM prompts) goes through these functions.
"""
