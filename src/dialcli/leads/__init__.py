"""Leads in: a CSV file becomes a campaign's leads, all or nothing.

- ``importer``  ``import_csv``: read -> prepare -> write in one transaction, rejects file
- ``csvfile``   reading the file: encoding, delimiter, records with line numbers
- ``header``    the header row: which row it is, what each column is (CRM names too)
- ``prepare``   ``Preparer``: validation, phones and their zones, duplicates, opt-outs
- ``cells``     damage in cells (NULs, Excel errors) and one number in two phone columns
- ``worker``    the preparer in a second process for big files

Above ``compliance`` (an import warns about states whose hours never meet the window)
and ``store``.
"""
