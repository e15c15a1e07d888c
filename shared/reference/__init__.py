"""Reference data: capabilities, partner types, countries, reasons and other code lists.

The lists ship as JSON files in this package and are loaded once at start by
`shared.reference.data.load_reference_data`; editing a file changes behaviour without code changes.
"""
