"""The one LLM-judge framework (versioned prompt data, rendering, parsing, verdicts) and its prompts."""
