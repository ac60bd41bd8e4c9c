// Writes java-index.zip the way Druid's pusher does (java.util.zip.ZipOutputStream, DEFLATED entries streamed
// with data descriptors, flat, in name order), so that the Go extractors are checked against Java's own bytes.
// Regenerate with: java deepstorage/testdata/MakeIndexZip.java deepstorage/testdata/java-index.zip
import java.io.FileOutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;

public class MakeIndexZip {
  public static void main(String[] args) throws Exception {
    byte[] smoosh = new byte[300000];
    long x = 1;
    for (int i = 0; i < smoosh.length; i++) {
      x = x * 6364136223846793005L + 1442695040888963407L;
      smoosh[i] = (byte) ((i % 7 == 0) ? (x >>> 56) : (i / 1000));
    }
    String[][] text = {
      {"factory.json", "{\"type\":\"mMapSegmentFactory\"}"},
      {"meta.smoosh", "v1,2147483647,1\n__time,0,0,1200\nindex.drd,0,1200,300000\n"},
    };
    try (ZipOutputStream out = new ZipOutputStream(new FileOutputStream(args[0]))) {
      out.putNextEntry(new ZipEntry("00000.smoosh"));
      out.write(smoosh);
      out.closeEntry();
      for (String[] t : text) {
        out.putNextEntry(new ZipEntry(t[0]));
        out.write(t[1].getBytes(StandardCharsets.UTF_8));
        out.closeEntry();
      }
      out.putNextEntry(new ZipEntry("version.bin"));
      out.write(ByteBuffer.allocate(4).putInt(9).array());
      out.closeEntry();
    }
  }
}
