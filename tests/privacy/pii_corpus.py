"""Hostile free text for the trust layer's detection: each text with the personal values it holds.

Written the way customers and agents write case descriptions: cards with spaces and dashes, SSNs
(published sample numbers too), IBANs, emails in angle brackets, phones in many national formats,
names, street addresses, IP addresses, URLs carrying personal data, dates of birth, national ids.
`BENIGN` holds texts with numbers, dates and capitalised words but nothing personal, to count
what is masked that need not be.

This is the tuning corpus: the recognizers were developed against it, and the tests hold them to
it. The figures in BENCHMARKS.md come from a separate held-out corpus (benchmarks/pii_held_out.py).
"""

from __future__ import annotations

# (text, [(kind, value as it appears in the text), ...])
CORPUS: list[tuple[str, list[tuple[str, str]]]] = [
    # Cards (Luhn-valid), with spaces, dashes and none.
    ("Card 4111 1111 1111 1111 was charged twice.", [("card", "4111 1111 1111 1111")]),
    ("Please refund to 4111-1111-1111-1111, exp 12/26.", [("card", "4111-1111-1111-1111")]),
    ("my mastercard is 5555 5555 5555 4444 thanks", [("card", "5555 5555 5555 4444")]),
    ("Amex 3782 822463 10005 declined at checkout", [("card", "3782 822463 10005")]),
    ("Discover card: 6011111111111117", [("card", "6011111111111117")]),
    ("Used 5105-1051-0510-5100 for order 88213", [("card", "5105-1051-0510-5100")]),
    ("JCB 3530 1113 3330 0000 not accepted?", [("card", "3530 1113 3330 0000")]),
    ("Visa ending... no wait, full number 4012 8888 8888 1881", [("card", "4012 8888 8888 1881")]),
    # SSNs, including published samples that Presidio lets through on purpose.
    ("SSN 123-45-6789", [("ssn", "123-45-6789")]),
    ("My social security number is 219-09-9999.", [("ssn", "219-09-9999")]),
    ("SSN: 078-05-1120 (from the old form)", [("ssn", "078-05-1120")]),
    ("ssn 536 22 1234 for the tax form", [("ssn", "536 22 1234")]),
    ("social security no. 536221234", [("ssn", "536221234")]),
    # IBANs.
    ("IBAN GB82 WEST 1234 5698 7654 32 for the refund", [("iban", "GB82 WEST 1234 5698 7654 32")]),
    ("Bitte auf DE89 3704 0044 0532 0130 00 überweisen", [("iban", "DE89 3704 0044 0532 0130 00")]),
    ("virement FR14 2004 1010 0505 0001 3M02 606 svp", [("iban", "FR14 2004 1010 0505 0001 3M02 606")]),
    ("NL91ABNA0417164300 is my account", [("iban", "NL91ABNA0417164300")]),
    ("Cuenta ES91 2100 0418 4502 0005 1332", [("iban", "ES91 2100 0418 4502 0005 1332")]),
    # Emails, in brackets, with tags, sub-domains, capitals, reserved and IP domains.
    ("Mail <jane.doe@example.com> please", [("email", "jane.doe@example.com")]),
    (
        "Reply to JOHN.SMITH+promo@Mail.Example.co.uk not the old one",
        [("email", "JOHN.SMITH+promo@Mail.Example.co.uk")],
    ),
    ("contact: maria_garcia@correo.es;", [("email", "maria_garcia@correo.es")]),
    ('From: "Ana" <ana@lopez.example>', [("email", "ana@lopez.example")]),
    ("cc a.b-c@sub.domain.io and x@y.museum", [("email", "a.b-c@sub.domain.io"), ("email", "x@y.museum")]),
    ("old login was jd@[10.0.0.1]", [("email", "jd@[10.0.0.1]")]),
    # Phones in national and international formats.
    ("Call me at (415) 555-0132 after 5pm", [("phone", "(415) 555-0132")]),
    ("cell 415.555.0132 or +1 415 555 0133", [("phone", "415.555.0132"), ("phone", "+1 415 555 0133")]),
    (
        "UK office +44 20 7946 0958, home 020 7946 0958",
        [("phone", "+44 20 7946 0958"), ("phone", "020 7946 0958")],
    ),
    ("mobile 07700 900123", [("phone", "07700 900123")]),
    ("Tel. +49 30 12345678 oder 0171 1234567", [("phone", "+49 30 12345678"), ("phone", "0171 1234567")]),
    (
        "Appelez le +33 1 42 68 53 00 ou le 06 12 34 56 78",
        [("phone", "+33 1 42 68 53 00"), ("phone", "06 12 34 56 78")],
    ),
    ("Llámame al +34 612 34 56 78", [("phone", "+34 612 34 56 78")]),
    ("Chiamami al +39 06 1234 5678", [("phone", "+39 06 1234 5678")]),
    ("Bel me op +31 20 123 4567", [("phone", "+31 20 123 4567")]),
    ("WhatsApp +91 98765 43210", [("phone", "+91 98765 43210")]),
    ("Sydney office +61 2 9876 5432", [("phone", "+61 2 9876 5432")]),
    ("Tokyo +81 3-1234-5678", [("phone", "+81 3-1234-5678")]),
    ("São Paulo +55 11 91234-5678", [("phone", "+55 11 91234-5678")]),
    ("toll free 1-800-555-0199 ext. 12", [("phone", "1-800-555-0199 ext. 12")]),
    ("fax 001-415-555-0101x123", [("phone", "001-415-555-0101x123")]),
    # Names of other people: after titles and introductions, and common first + family names.
    ("Mrs Alvarez called about the same order", [("name", "Alvarez")]),
    ("Dr. Chen Wei will pick it up", [("name", "Chen Wei")]),
    ("Hi, my name is Priya Natarajan and I ordered twice", [("name", "Priya Natarajan")]),
    ("Thanks. Regards, Tom Becker", [("name", "Tom Becker")]),
    ("Signed, Olga Petrovna", [("name", "Olga Petrovna")]),
    ("Please ask for Lukas Schmidt at reception", [("name", "Lukas Schmidt")]),
    ("John Smith and Maria Garcia both complained", [("name", "John Smith"), ("name", "Maria Garcia")]),
    ("Parcel left with my neighbour Emily Clarke", [("name", "Emily Clarke")]),
    ("Mr O'Brien is the account owner", [("name", "O'Brien")]),
    # Street addresses, PO boxes, postcodes.
    ("Ship to 221B Baker Street, London NW1 6XE", [("address", "221B Baker Street"), ("address", "NW1 6XE")]),
    (
        "Deliver to 1600 Pennsylvania Ave NW, Washington, DC 20500",
        [("address", "1600 Pennsylvania Ave NW"), ("address", "DC 20500")],
    ),
    (
        "new address: 12 Main St., Apt 4B, Austin, TX 78701",
        [("address", "12 Main St., Apt 4B"), ("address", "TX 78701")],
    ),
    ("Lieferung an Hauptstraße 5 in Berlin", [("address", "Hauptstraße 5")]),
    ("Berliner Str. 12a, 10115 Berlin", [("address", "Berliner Str. 12a")]),
    ("Livraison au 12 rue de la Paix, Paris", [("address", "12 rue de la Paix")]),
    ("Envío a Calle Mayor 5, Madrid", [("address", "Calle Mayor 5")]),
    ("Spedire a Via Roma 10, Milano", [("address", "Via Roma 10")]),
    ("Bezorgen op Keizersgracht 123, Amsterdam", [("address", "Keizersgracht 123")]),
    ("Send it to PO Box 1234 instead", [("address", "PO Box 1234")]),
    ("postcode SW1A 1AA", [("address", "SW1A 1AA")]),
    # IP addresses.
    (
        "Logins from 192.168.1.20 and 10.0.0.254 look odd",
        [("ip_address", "192.168.1.20"), ("ip_address", "10.0.0.254")],
    ),
    ("IPv6 2001:db8::ff00:42:8329 blocked", [("ip_address", "2001:db8::ff00:42:8329")]),
    # URLs carrying personal data.
    (
        "Link https://shop.example.com/account?email=jane@example.com broken",
        [("url", "https://shop.example.com/account?email=jane@example.com")],
    ),
    (
        "see http://example.org/track?uid=88213&name=Jane",
        [("url", "http://example.org/track?uid=88213&name=Jane")],
    ),
    # Dates of birth and national ids, anchored by what they are.
    ("DOB: 04/12/1985", [("date_of_birth", "04/12/1985")]),
    ("I was born on 12 April 1985", [("date_of_birth", "12 April 1985")]),
    ("date of birth 1985-04-12", [("date_of_birth", "1985-04-12")]),
    ("NI number QQ 12 34 56 C", [("national_id", "QQ 12 34 56 C")]),
    ("passport no X1234567", [("national_id", "X1234567")]),
    ("loyalty number 7022634189 not recognised", [("identifier", "7022634189")]),
    # Several at once.
    (
        "Jane Doe (jane.doe@example.com, +1 415 555 0132) lives at 12 Main Street and paid with 4111 1111 1111 1111",
        [
            ("name", "Jane Doe"),
            ("email", "jane.doe@example.com"),
            ("phone", "+1 415 555 0132"),
            ("address", "12 Main Street"),
            ("card", "4111 1111 1111 1111"),
        ],
    ),
]

BENIGN: list[str] = [
    "Order 4711 arrived on 2024-01-15 at 10:30.",
    "Refund of 12.50 USD processed on 03/05/2024.",
    "Product SKU A1-2345 is out of stock.",
    "The tracking page has not updated in 3 days.",
    "Version 2.3.1 of the app crashes on login.",
    "The April sale ends Friday.",
    "Will you ship to Canada?",
    "Invoice INV-2024-00012 attached.",
    "Size 42 shoes, model 7781, colour black.",
    "Our Grant Park store is closed on Sunday.",
    "50% off the summer collection until 31 August.",
    "Promo code SAVE20 was not applied at checkout.",
    "Item arrived damaged, box 3 of 4 was open.",
    "I was charged more than the price shown at checkout.",
    "Please check my card statement and reply.",
    "Return request for the Outdoor Gear category.",
    "Email Delivered",
    "Product Viewed",
    "Working - Contacted",
    "The reset link never arrives.",
]
