"""sftforge.formats"""
