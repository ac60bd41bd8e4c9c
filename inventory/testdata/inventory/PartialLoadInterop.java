// Interop check of partial-load announcements in the HTTP segment inventory, compiled and run by
// partial_interop_test.go.
//
// Arguments: a file holding our JSON ChangeRequestsSnapshot and one holding our Smile one for the same state. Each
// is bound as a Druid 38+ Broker or Coordinator binds it: requests to mirrors of DataSegmentChangeRequest (type id
// "action") and of SegmentChangeRequestLoad (an unwrapped segment beside its optional "fingerprint" and
// "loadedBytes", NON_NULL), with unknown properties ignored as Druid's mapper does.
//
// Output on stdout, one line per request: "REQ <format> <action> <segment id> <fingerprint|null>
// <loadedBytes|null> <loadSpec type>", then "WRITE <base64>" for each load request of the JSON snapshot as Jackson
// writes the mirror back (so the Go side can check where Jackson puts the two fields); "FAIL <reason>" on an error.
import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.annotation.JsonSubTypes;
import com.fasterxml.jackson.annotation.JsonTypeInfo;
import com.fasterxml.jackson.annotation.JsonUnwrapped;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.smile.SmileFactory;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.util.Base64;
import java.util.List;
import java.util.Map;

public final class PartialLoadInterop {
    public static final class Segment {
        public final String dataSource;
        public final Map<String, Object> loadSpec;
        public final long size;
        public final String identifier;

        @JsonCreator
        public Segment(@JsonProperty("dataSource") String dataSource, @JsonProperty("loadSpec") Map<String, Object> loadSpec,
                       @JsonProperty("size") long size, @JsonProperty("identifier") String identifier) {
            this.dataSource = dataSource;
            this.loadSpec = loadSpec;
            this.size = size;
            this.identifier = identifier;
        }

        @JsonProperty public String getDataSource() { return dataSource; }
        @JsonProperty public Map<String, Object> getLoadSpec() { return loadSpec; }
        @JsonProperty public long getSize() { return size; }
    }

    // The writer: SegmentChangeRequestLoad's own shape, whose creator decides where Jackson writes the two fields.
    @JsonTypeInfo(use = JsonTypeInfo.Id.NAME, property = "action")
    @JsonSubTypes({@JsonSubTypes.Type(name = "load", value = Load.class)})
    public interface Request {}

    public static final class Load implements Request {
        private final Segment segment;
        private final String fingerprint;
        private final Long loadedBytes;

        @JsonCreator
        public Load(@JsonUnwrapped Segment segment, @JsonProperty("fingerprint") String fingerprint,
                    @JsonProperty("loadedBytes") Long loadedBytes) {
            this.segment = segment;
            this.fingerprint = fingerprint;
            this.loadedBytes = loadedBytes;
        }

        @JsonProperty @JsonUnwrapped public Segment getSegment() { return segment; }
        @JsonProperty @JsonInclude(JsonInclude.Include.NON_NULL) public String getFingerprint() { return fingerprint; }
        @JsonProperty @JsonInclude(JsonInclude.Include.NON_NULL) public Long getLoadedBytes() { return loadedBytes; }
    }

    // The readers: Jackson before 2.19 cannot bind an @JsonUnwrapped creator parameter beside others (Druid's Jackson
    // can), so the request read binds the segment through an unwrapped setter instead; the members are the same.
    @JsonTypeInfo(use = JsonTypeInfo.Id.NAME, property = "action")
    @JsonSubTypes({@JsonSubTypes.Type(name = "load", value = LoadIn.class), @JsonSubTypes.Type(name = "drop", value = DropIn.class)})
    public interface RequestIn {}

    public static class DropIn implements RequestIn {
        Segment segment;

        @JsonUnwrapped public void setSegment(Segment segment) { this.segment = segment; }
    }

    public static final class LoadIn extends DropIn {
        String fingerprint;
        Long loadedBytes;

        @JsonProperty("fingerprint") public void setFingerprint(String fingerprint) { this.fingerprint = fingerprint; }
        @JsonProperty("loadedBytes") public void setLoadedBytes(Long loadedBytes) { this.loadedBytes = loadedBytes; }
    }

    public static final class Snapshot {
        public final List<RequestIn> requests;

        @JsonCreator
        public Snapshot(@JsonProperty("requests") List<RequestIn> requests) { this.requests = requests; }
    }

    public static void main(String[] args) throws Exception {
        ObjectMapper json = new ObjectMapper().configure(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES, false);
        ObjectMapper smile = new ObjectMapper(new SmileFactory()).configure(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES, false);
        try {
            for (int i = 0; i < 2; i++) {
                ObjectMapper m = i == 0 ? json : smile;
                Snapshot s = m.readValue(Files.readAllBytes(Paths.get(args[i])), Snapshot.class);
                for (RequestIn r : s.requests) {
                    if (r instanceof LoadIn) {
                        LoadIn l = (LoadIn) r;
                        System.out.println("REQ " + (i == 0 ? "json" : "smile") + " load " + l.segment.identifier + " "
                                + l.fingerprint + " " + l.loadedBytes + " " + l.segment.loadSpec.get("type"));
                        if (i == 0) {
                            Request w = new Load(l.segment, l.fingerprint, l.loadedBytes);
                            System.out.println("WRITE " + Base64.getEncoder().encodeToString(
                                    json.writerFor(Request.class).writeValueAsString(w).getBytes(StandardCharsets.UTF_8)));
                        }
                    } else {
                        DropIn d = (DropIn) r;
                        System.out.println("REQ " + (i == 0 ? "json" : "smile") + " drop " + d.segment.identifier + " null null "
                                + d.segment.loadSpec.get("type"));
                    }
                }
            }
        } catch (Exception e) {
            System.out.println("FAIL " + e.toString().replace('\n', ' '));
        }
    }
}
