// Interop check for jackson/smile.go, compiled and run by smile_interop_test.go (one JVM for all cases).
//
// Input on stdin, repeated until EOF: for each case, three big-endian int32-length-prefixed byte strings:
// the case name (UTF-8, no spaces), a JSON document, and the Smile document our Go encoder produced for it.
//
// For each case it reads the JSON with Jackson's JSON parser and the Smile with Jackson's Smile parser (default
// features: the Smile header is required, exactly as Druid's Brokers and Coordinators read the inventory) and
// compares the two token streams strictly: same token types in the same order, same names, same strings, same
// number types (INT / LONG / BIG_INTEGER / DOUBLE) and values (doubles bit for bit). Then it compares the trees
// databind reads from both. It also encodes the JSON with Jackson's own SmileGenerator (default features), so
// the Go side can compare bytes.
//
// The type of a JSON integer is taken from its value, as upstream Jackson's JSON parser assigns it (the smallest
// of int, long, BigInteger that holds it), not from the JSON parser's getNumberType(): the jackson-core jar
// Debian 12 installs here (2.14.1-2~deb12u1) lacks the NumberInput.inLongRange check in
// ParserBase._parseSlowInt and reports every integer of 19 digits or more as BIG_INTEGER, even
// 9223372036854775807, which upstream 2.14.1 reports as LONG. The Smile side needs no such help: a Smile
// parser gets the type from the token. Each time the JSON parser misreports, a NOTE line says so.
//
// Output on stdout, one line per case: "OK <name> <base64 of Jackson's Smile>" or
// "FAIL <name> <base64 or -> <reason>", then "DONE <number of cases>". The first line is "VERSION ...".
import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.JsonParser.NumberType;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.IntNode;
import com.fasterxml.jackson.databind.node.LongNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.smile.SmileFactory;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.PrintStream;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;

public final class SmileInterop {
    /** How often the JSON parser's getNumberType() disagreed with the integer's value. */
    private static long misreportedIntegers;

    public static void main(String[] args) throws Exception {
        DataInputStream in = new DataInputStream(new BufferedInputStream(System.in, 1 << 16));
        PrintStream out = new PrintStream(new BufferedOutputStream(System.out, 1 << 16), false, "UTF-8");
        JsonFactory jsonFactory = new JsonFactory();
        SmileFactory smileFactory = new SmileFactory();
        ObjectMapper jsonMapper = new ObjectMapper(jsonFactory);
        ObjectMapper smileMapper = new ObjectMapper(smileFactory);
        out.println("VERSION jackson-dataformat-smile " + smileFactory.version() + ", jackson-core "
                + jsonFactory.version() + ", jackson-databind " + jsonMapper.version()
                + ", java " + System.getProperty("java.version"));
        int cases = 0;
        while (true) {
            String name;
            try {
                name = new String(readChunk(in), StandardCharsets.UTF_8);
            } catch (EOFException e) {
                break;
            }
            byte[] json = readChunk(in);
            byte[] smile = readChunk(in);
            cases++;
            String jacksonSmile = "-";
            String diff;
            try {
                ByteArrayOutputStream bytes = new ByteArrayOutputStream();
                try (JsonParser p = jsonFactory.createParser(json);
                     JsonGenerator g = smileFactory.createGenerator(bytes)) {
                    for (JsonToken t; (t = p.nextToken()) != null; ) {
                        if (t != JsonToken.VALUE_NUMBER_INT) {
                            g.copyCurrentEvent(p);
                            continue;
                        }
                        switch (integerType(p.getBigIntegerValue())) {
                            case INT:
                                g.writeNumber(p.getIntValue());
                                break;
                            case LONG:
                                g.writeNumber(p.getLongValue());
                                break;
                            default:
                                g.writeNumber(p.getBigIntegerValue());
                        }
                    }
                }
                jacksonSmile = Base64.getEncoder().encodeToString(bytes.toByteArray());
                try (JsonParser a = jsonFactory.createParser(json); JsonParser b = smileFactory.createParser(smile)) {
                    diff = compareTokens(a, b);
                }
                if (diff == null) {
                    JsonNode a = normalize(jsonMapper.readTree(json));
                    JsonNode b = smileMapper.readTree(smile);
                    if (!a.equals(b)) {
                        diff = "databind trees differ: from JSON " + clip(a.toString()) + ", from Smile " + clip(b.toString());
                    }
                }
            } catch (Exception e) {
                diff = "exception: " + e;
            }
            out.println(diff == null ? "OK " + name + " " + jacksonSmile
                    : "FAIL " + name + " " + jacksonSmile + " " + diff.replace('\n', ' '));
        }
        if (misreportedIntegers > 0) {
            out.println("NOTE the installed jackson-core's JSON parser reported BIG_INTEGER for " + misreportedIntegers
                    + " integers that fit a long; their type was taken from their value");
        }
        out.println("DONE " + cases);
        out.flush();
    }

    private static byte[] readChunk(DataInputStream in) throws Exception {
        int n = in.readInt();
        byte[] b = new byte[n];
        in.readFully(b);
        return b;
    }

    /** Returns null if both parsers yield the same tokens, else a description of the first difference. */
    private static String compareTokens(JsonParser json, JsonParser smile) throws Exception {
        for (long index = 0; ; index++) {
            JsonToken a = json.nextToken();
            JsonToken b = smile.nextToken();
            String where = "token #" + index + " (JSON path " + json.getParsingContext().toString() + ")";
            if (a != b) {
                return where + ": JSON has " + a + ", Smile has " + b + describe(smile, b);
            }
            if (a == null) {
                return null;
            }
            switch (a) {
                case FIELD_NAME:
                    if (!json.getCurrentName().equals(smile.getCurrentName())) {
                        return where + ": name " + quote(json.getCurrentName()) + " vs " + quote(smile.getCurrentName());
                    }
                    break;
                case VALUE_STRING:
                    if (!json.getText().equals(smile.getText())) {
                        return where + ": string " + quote(json.getText()) + " vs " + quote(smile.getText());
                    }
                    break;
                case VALUE_NUMBER_INT: {
                    NumberType reported = json.getNumberType();
                    BigInteger value = json.getBigIntegerValue();
                    NumberType want = integerType(value);
                    if (reported != want) {
                        misreportedIntegers++;
                    }
                    if (smile.getNumberType() != want || !value.equals(smile.getBigIntegerValue())) {
                        return where + ": integer " + want + " " + value
                                + " vs " + smile.getNumberType() + " " + smile.getNumberValue();
                    }
                    break;
                }
                case VALUE_NUMBER_FLOAT:
                    if (json.getNumberType() != smile.getNumberType()
                            || Double.doubleToRawLongBits(json.getDoubleValue()) != Double.doubleToRawLongBits(smile.getDoubleValue())) {
                        return where + ": float " + json.getNumberType() + " " + json.getDoubleValue()
                                + " vs " + smile.getNumberType() + " " + smile.getDoubleValue();
                    }
                    break;
                default:
                    break;
            }
        }
    }

    /** The type upstream Jackson gives an integer read from JSON: the smallest of int, long, BigInteger. */
    private static NumberType integerType(BigInteger v) {
        if (v.bitLength() < 32) {
            return NumberType.INT;
        }
        return v.bitLength() < 64 ? NumberType.LONG : NumberType.BIG_INTEGER;
    }

    /** Replaces BigIntegerNodes that fit an int or a long by IntNode or LongNode (see the class comment). */
    private static JsonNode normalize(JsonNode n) {
        if (n.isBigInteger()) {
            BigInteger v = n.bigIntegerValue();
            switch (integerType(v)) {
                case INT:
                    return IntNode.valueOf(v.intValue());
                case LONG:
                    return LongNode.valueOf(v.longValue());
                default:
                    return n;
            }
        }
        if (n.isObject()) {
            ObjectNode o = (ObjectNode) n;
            List<String> names = new ArrayList<>();
            o.fieldNames().forEachRemaining(names::add);
            for (String name : names) {
                o.set(name, normalize(o.get(name)));
            }
        } else if (n.isArray()) {
            ArrayNode a = (ArrayNode) n;
            for (int i = 0; i < a.size(); i++) {
                a.set(i, normalize(a.get(i)));
            }
        }
        return n;
    }

    private static String describe(JsonParser p, JsonToken t) {
        try {
            if (t == JsonToken.FIELD_NAME) {
                return " " + quote(p.getCurrentName());
            }
            if (t != null && t.isScalarValue()) {
                return " " + quote(p.getText());
            }
        } catch (Exception e) {
            return "";
        }
        return "";
    }

    private static String quote(String s) {
        StringBuilder b = new StringBuilder("\"");
        for (char c : clip(s).toCharArray()) {
            if (c < 0x20 || c > 0x7E) {
                b.append(String.format("\\u%04x", (int) c));
            } else {
                b.append(c);
            }
        }
        return b.append('"').toString();
    }

    private static String clip(String s) {
        return s.length() <= 300 ? s : s.substring(0, 300) + "...";
    }
}
