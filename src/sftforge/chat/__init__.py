"""sftforge.chat"""
