"""sftforge.cli"""
