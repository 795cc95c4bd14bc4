import Testing
@testable import CtxHarness

@Suite struct CSVCodecTests {
    @Test func writesQuotedFieldsAndReadsThemBack() throws {
        let rows = [["name", "value"], ["pp512 @ d16384", "1,234.5"], ["say \"hi\"", "line\nbreak"], ["", "nan"]]
        let text = rows.map(CSVCodec.line).joined()
        #expect(text.hasPrefix("\"name\",\"value\"\n"))
        #expect(try CSVCodec.parse(text) == rows)
    }

    @Test func readsUnquotedFieldsAndCRLF() throws {
        #expect(try CSVCodec.parse("a,b\r\n1,2\r\n") == [["a", "b"], ["1", "2"]])
    }

    @Test func rejectsMalformedQuoting() {
        #expect(throws: CSVCodec.ParseError.self) { try CSVCodec.parse("a,\"unterminated\n") }
    }
}

@Suite struct SHA256Tests {
    /// FIPS 180-4 test vectors, including one that needs two blocks of padding.
    @Test func standardVectors() {
        #expect(SHA256.hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(SHA256.hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(SHA256.hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")
                == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        #expect(SHA256.hex(String(repeating: "a", count: 1_000)) == "41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3")
    }
}
