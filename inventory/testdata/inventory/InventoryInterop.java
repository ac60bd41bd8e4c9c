// Interop check for the HTTP segment inventory (inventory/inventory.go), compiled and run by
// inventory_interop_test.go: one JVM for all cases.
//
// Input on stdin, repeated until EOF: three big-endian int32-length-prefixed byte strings per case: the case
// name (UTF-8, no spaces), our JSON response and our Smile response for the same inventory state.
//
// For each case, as a Druid Broker or Coordinator would read it:
//   1. our Smile is read with a Smile ObjectMapper with default features (the Smile header is required), and our
//      JSON with a JSON ObjectMapper; the two trees must be equal (JsonNode.equals: same keys, same values, same
//      number types);
//   2. our Smile is bound to Snapshot/Counter, mirror classes of Druid's ChangeRequestsSnapshot and
//      ChangeRequestHistory.Counter with the same @JsonCreator (so the reset precondition applies), and every
//      request must have action load or drop, a Joda-parsable interval and an identifier;
//   3. the JSON tree is written with Jackson's own SmileGenerator, once with default features and once with
//      shared string values on, for the Go side to decode with internal/druidpeer's decoder.
//
// Output on stdout: "VERSION ...", then per case "OK <name> <requests> <counter> <hash>" or
// "FAIL <name> <reason>", and "SMILE <name> <default|shared> <base64>"; finally "DONE <number of cases>".
import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.smile.SmileFactory;
import com.fasterxml.jackson.dataformat.smile.SmileGenerator;
import org.joda.time.Interval;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.List;
import java.util.Map;

public final class InventoryInterop {
    public static final class Counter {
        final long counter;
        final long hash;

        @JsonCreator
        public Counter(@JsonProperty("counter") long counter, @JsonProperty("hash") long hash) {
            this.counter = counter;
            this.hash = hash;
        }
    }

    public static final class Snapshot {
        final boolean resetCounter;
        final String resetCause;
        final Counter counter;
        final List<Map<String, Object>> requests;

        @JsonCreator
        public Snapshot(@JsonProperty("resetCounter") boolean resetCounter,
                        @JsonProperty("resetCause") String resetCause,
                        @JsonProperty("counter") Counter counter,
                        @JsonProperty("requests") List<Map<String, Object>> requests) {
            if (resetCounter && resetCause == null) {
                throw new NullPointerException("NULL resetCause when resetCounter is true.");
            }
            this.resetCounter = resetCounter;
            this.resetCause = resetCause;
            this.counter = counter;
            this.requests = requests;
        }
    }

    public static void main(String[] args) throws Exception {
        DataInputStream in = new DataInputStream(new BufferedInputStream(System.in, 1 << 16));
        PrintStream out = new PrintStream(new BufferedOutputStream(System.out, 1 << 16), false, "UTF-8");
        ObjectMapper jsonMapper = new ObjectMapper();
        SmileFactory smileFactory = new SmileFactory();
        ObjectMapper smileMapper = new ObjectMapper(smileFactory);
        SmileFactory sharedFactory = new SmileFactory();
        sharedFactory.configure(SmileGenerator.Feature.CHECK_SHARED_STRING_VALUES, true);
        ObjectMapper sharedMapper = new ObjectMapper(sharedFactory);
        out.println("VERSION jackson-dataformat-smile " + smileFactory.version() + ", jackson-databind "
                + jsonMapper.version() + ", java " + System.getProperty("java.version"));
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
            try {
                JsonNode fromSmile = smileMapper.readTree(smile);
                JsonNode fromJson = jsonMapper.readTree(json);
                if (!fromSmile.equals(fromJson)) {
                    out.println("FAIL " + name + " the Smile tree differs from the JSON tree");
                    continue;
                }
                Snapshot s = smileMapper.readValue(smile, Snapshot.class);
                if (s.resetCounter) {
                    if (s.counter != null || s.requests != null) {
                        out.println("FAIL " + name + " a reset carries a counter or requests");
                        continue;
                    }
                    out.println("OK " + name + " -1 reset " + s.resetCause.length());
                } else {
                    if (s.counter == null || s.requests == null) {
                        out.println("FAIL " + name + " a success without counter or requests");
                        continue;
                    }
                    String bad = null;
                    for (Map<String, Object> r : s.requests) {
                        Object action = r.get("action");
                        if (!"load".equals(action) && !"drop".equals(action)) {
                            bad = "action " + action;
                            break;
                        }
                        Interval iv = new Interval(r.get("interval"));
                        if (iv.getEndMillis() <= iv.getStartMillis() || !(r.get("identifier") instanceof String)) {
                            bad = "interval or identifier of " + r.get("identifier");
                            break;
                        }
                    }
                    if (bad != null) {
                        out.println("FAIL " + name + " " + bad);
                        continue;
                    }
                    out.println("OK " + name + " " + s.requests.size() + " " + s.counter.counter + " " + s.counter.hash);
                }
                out.println("SMILE " + name + " default " + Base64.getEncoder().encodeToString(smileMapper.writeValueAsBytes(fromJson)));
                out.println("SMILE " + name + " shared " + Base64.getEncoder().encodeToString(sharedMapper.writeValueAsBytes(fromJson)));
            } catch (Exception e) {
                out.println("FAIL " + name + " " + e.toString().replace('\n', ' '));
            }
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
}
