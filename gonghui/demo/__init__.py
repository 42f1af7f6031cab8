"""Synthetic demonstration data: the 焦作 union tree, staff logins and invented members.

Nothing here is real personal information: names are drawn from common characters, identity numbers
are generated with random birth dates and sequence numbers (valid check digits), card numbers are
random digits behind public bank prefixes with a computed Luhn digit.
"""
