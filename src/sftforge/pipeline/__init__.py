"""sftforge.pipeline"""
