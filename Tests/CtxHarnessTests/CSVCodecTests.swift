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
