"""sftforge.llm"""
