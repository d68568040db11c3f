"""sftforge.generate"""
