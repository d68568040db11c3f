"""sftforge.io"""
