"""sftforge.export"""
