"""A held-out corpus of hostile free text for the PII detection benchmark.

Written separately from the tuning corpus the recognizers were developed against
(tests/privacy/pii_corpus.py), in other voices (chat transcripts, forwarded emails, agent notes,
web forms), and never used to change a recognizer: the recall BENCHMARKS.md reports is measured
here. Some values are written to dodge any pattern (`jane at example dot com`, a name in lower
case); they count as misses, so the figures say what the detector does not catch.
"""

from __future__ import annotations

# (text, [(kind, value as it appears in the text), ...])
HELD_OUT: list[tuple[str, list[tuple[str, str]]]] = [
    # --- cards ---------------------------------------------------------------------------------------
    (
        "[chat] customer: the card is 4000 0566 5566 5556 and it keeps failing",
        [("card", "4000 0566 5566 5556")],
    ),
    ("Agent note: refunded to card 5200-8282-8282-8210 on request", [("card", "5200-8282-8282-8210")]),
    ("cc#: 371449635398431 exp 09/27 cvv 1234", [("card", "371449635398431")]),
    ("paid w/ 6011 0009 9013 9424 (discover)", [("card", "6011 0009 9013 9424")]),
    ("Kartennummer 4242424242424242, bitte stornieren", [("card", "4242424242424242")]),
    ("numéro de carte : 5555-5555-5555-4444", [("card", "5555-5555-5555-4444")]),
    ("Diners 3056 9309 0259 04 charged", [("card", "3056 9309 0259 04")]),
    ("used my other card 4000 0025 0000 3155 this time", [("card", "4000 0025 0000 3155")]),
    # --- social security numbers ---------------------------------------------------------------------
    ("web form > SSN field: 432-12-9876", [("ssn", "432-12-9876")]),
    ("my ss# is 345 67 8901 if you need it for the credit check", [("ssn", "345 67 8901")]),
    ("Customer read out social security 512-34-7788 on the call", [("ssn", "512-34-7788")]),
    ("SSN123456780 typed without a space", [("ssn", "123456780")]),
    ("Tax form attached, SSN: 001-01-0001", [("ssn", "001-01-0001")]),
    # --- IBANs ---------------------------------------------------------------------------------------
    ("please wire the refund to IBAN BE68 5390 0754 7034", [("iban", "BE68 5390 0754 7034")]),
    ("Meine IBAN lautet AT61 1904 3002 3457 3201", [("iban", "AT61 1904 3002 3457 3201")]),
    ("rib : FR76 3000 6000 0112 3456 7890 189", [("iban", "FR76 3000 6000 0112 3456 7890 189")]),
    ("IE29AIBK93115212345678 is the account", [("iban", "IE29AIBK93115212345678")]),
    ("Konto CH93 0076 2011 6238 5295 7", [("iban", "CH93 0076 2011 6238 5295 7")]),
    ("conto IT60X0542811101000000123456", [("iban", "IT60X0542811101000000123456")]),
    # --- emails --------------------------------------------------------------------------------------
    (
        "---- Forwarded message ---- From: Paul Weber <p.weber@weber-gmbh.de>",
        [("email", "p.weber@weber-gmbh.de"), ("name", "Paul Weber")],
    ),
    (
        "reply-to:<SUPPORT.TICKETS+4481@Help.Example.NET>",
        [("email", "SUPPORT.TICKETS+4481@Help.Example.NET")],
    ),
    ("my new address is lena_k@posteo.de (old one is closed)", [("email", "lena_k@posteo.de")]),
    ("email me: o'connor.s@uni.example.ie", [("email", "o'connor.s@uni.example.ie")]),
    ("write to jane at example dot com, the form rejects my address", [("email", "jane at example dot com")]),
    ("mailto:raj.patel@corp.example.in?subject=order", [("email", "raj.patel@corp.example.in")]),
    # --- phones --------------------------------------------------------------------------------------
    ("[chat] call me back on 212-555-0187 pls", [("phone", "212-555-0187")]),
    ("Tel: (020) 7946 0321", [("phone", "(020) 7946 0321")]),
    ("mobile: +44 7911 123456", [("phone", "+44 7911 123456")]),
    ("Handy 0151 23456789, Festnetz 089 1234567", [("phone", "0151 23456789"), ("phone", "089 1234567")]),
    ("Rappelez-moi au 07.12.34.56.78 svp", [("phone", "07.12.34.56.78")]),
    ("móvil 612 345 678", [("phone", "612 345 678")]),
    ("cellulare 347 123 4567", [("phone", "347 123 4567")]),
    ("tel. 06-12345678 (NL)", [("phone", "06-12345678")]),
    ("Mumbai office 022 2345 6789", [("phone", "022 2345 6789")]),
    ("AU mobile 0412 345 678", [("phone", "0412 345 678")]),
    ("Brasil (11) 98765-4321", [("phone", "(11) 98765-4321")]),
    ("CDMX 55 1234 5678", [("phone", "55 1234 5678")]),
    ("Toronto 416-555-0199 ext 4", [("phone", "416-555-0199 ext 4")]),
    ("Dublin +353 1 234 5678", [("phone", "+353 1 234 5678")]),
    ("Stockholm +46 8 123 456 78", [("phone", "+46 8 123 456 78")]),
    ("Warszawa +48 22 123 45 67", [("phone", "+48 22 123 45 67")]),
    ("Singapore +65 6123 4567", [("phone", "+65 6123 4567")]),
    ("call 1 800 FLOWERS or 18003569377", [("phone", "18003569377")]),
    # --- names ---------------------------------------------------------------------------------------
    ("Agent note: spoke with Mrs. Okafor, she wants a callback", [("name", "Okafor")]),
    ("Hello, this is Fatima Al-Sayed from the Leeds store", [("name", "Fatima Al-Sayed")]),
    ("Best regards,\nHeinrich Vogel", [("name", "Heinrich Vogel")]),
    ("parcel was signed for by Sophie Martin", [("name", "Sophie Martin")]),
    ("Her son Daniel Kim placed the order", [("name", "Daniel Kim")]),
    ("Please contact Prof. Nakamura about the invoice", [("name", "Nakamura")]),
    ("customer: Ahmed Hassan, loyal since 2019", [("name", "Ahmed Hassan")]),
    ("I'm Chloé Dubois and I never got my refund", [("name", "Chloé Dubois")]),
    ("ask for jonas berg at the desk", [("name", "jonas berg")]),
    ("Thanks, Sven", [("name", "Sven")]),
    ("Mr McAllister says the box was empty", [("name", "McAllister")]),
    ("spoke to Aisha Bello and Kofi Mensah", [("name", "Aisha Bello"), ("name", "Kofi Mensah")]),
    # --- street addresses ------------------------------------------------------------------------------
    (
        "ship to 4821 Maple Avenue, Springfield, IL 62704",
        [("address", "4821 Maple Avenue"), ("address", "IL 62704")],
    ),
    (
        "new address: Flat 2, 17 Kings Road, Chelsea SW3 4NB",
        [("address", "17 Kings Road"), ("address", "SW3 4NB")],
    ),
    ("Lieferadresse: Schillerstraße 27, 80336 München", [("address", "Schillerstraße 27")]),
    ("Adresse : 8 bis avenue Victor Hugo, Lyon", [("address", "8 bis avenue Victor Hugo")]),
    ("dirección Calle de Alcalá 45, Madrid", [("address", "Calle de Alcalá 45")]),
    ("indirizzo Via Garibaldi 12, Torino", [("address", "Via Garibaldi 12")]),
    ("adres Prinsengracht 263, Amsterdam", [("address", "Prinsengracht 263")]),
    ("mail it to P.O. Box 7789, Reno NV 89501", [("address", "P.O. Box 7789"), ("address", "NV 89501")]),
    ("750 W Lake Shore Dr Apt 12C, Chicago", [("address", "750 W Lake Shore Dr Apt 12C")]),
    ("deliver to 33 Oak Lane next to the school", [("address", "33 Oak Lane")]),
    ("I live at the corner of 5th and Main", [("address", "corner of 5th and Main")]),
    # --- IP addresses ----------------------------------------------------------------------------------
    ("fraud check flagged IP 203.0.113.45", [("ip_address", "203.0.113.45")]),
    (
        "last login from 2001:0db8:85a3:0000:0000:8a2e:0370:7334",
        [("ip_address", "2001:0db8:85a3:0000:0000:8a2e:0370:7334")],
    ),
    ("router at 172.16.254.1 rebooted", [("ip_address", "172.16.254.1")]),
    # --- URLs with personal data ------------------------------------------------------------------------
    (
        "reset link https://app.example.com/reset?email=lena_k%40posteo.de&token=8f2a",
        [("url", "https://app.example.com/reset?email=lena_k%40posteo.de&token=8f2a")],
    ),
    (
        "profile page http://crm.example.com/contacts?contact_id=0038d00000Bx2X8",
        [("url", "http://crm.example.com/contacts?contact_id=0038d00000Bx2X8")],
    ),
    (
        "tracking https://track.example.net/p?user=ahmed.hassan&order=88",
        [("url", "https://track.example.net/p?user=ahmed.hassan&order=88")],
    ),
    # --- dates of birth and national ids -----------------------------------------------------------------
    ("D.O.B. 07/22/1979 on the account", [("date_of_birth", "07/22/1979")]),
    ("Birthday is March 3, 1990 — can I get the discount?", [("date_of_birth", "March 3, 1990")]),
    ("geboren am 14.02.1988", [("date_of_birth", "14.02.1988")]),
    ("national insurance number AB123456C", [("national_id", "AB123456C")]),
    ("passport number 533380006 expired", [("national_id", "533380006")]),
    ("DNI 12345678Z", [("national_id", "12345678Z")]),
    ("member number 88213377 at the Leeds store", [("identifier", "88213377")]),
]

BENIGN_HELD_OUT: list[str] = [
    "Ticket 20240518-0042 escalated to tier 2.",
    "Order NW-1004014 shipped on 2025-09-24 in 2 boxes.",
    "The May offer (20% off) did not apply to the Outdoor Gear range.",
    "Customer asked whether the Berlin store opens at 09:30 on Saturday.",
    "App version 4.12.0 build 3321 crashes on Android 14.",
    "Price shown was 129.99 but I was charged 139.99.",
    "Sizes 38, 40 and 42 are back in stock.",
    "Tracking number 1Z999AA10123456784 shows no movement.",
    "Loyalty points: 1,250 expiring 31/12/2025.",
    "I would like to return 3 of the 5 items.",
    "Delivery window 8am-12pm on Tuesday.",
    "Package weight 2.5 kg, dimensions 30 x 20 x 15 cm.",
    "Promo WELCOME10 worked on the second try.",
    "Can you check order 5512 and order 5513 together?",
    "Hope you can help, the jacket zip broke after a week.",
    "Will the Grand Opening sale include footwear?",
    "Reference INV-2025-000731 on the invoice.",
    "The Summer Collection is sold out online.",
    "Email Link Clicked",
    "Closed - Converted",
]
