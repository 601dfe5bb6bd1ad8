"""The synthetic demo company: seeded multi-source customer data with its ground truth.

`demo.generate.generate_demo_data` is the entry point; see that module for usage.
"""
