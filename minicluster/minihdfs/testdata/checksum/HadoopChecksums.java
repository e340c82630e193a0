// HadoopChecksums prints, for the fixture files of checksum_test.go, what
// `hdfs dfs -checksum` prints for them on HDFS (MD5MD5CRC32C and, with
// dfs.checksum.combine.mode=COMPOSITE_CRC, COMPOSITE-CRC32C), computed
// with Hadoop's own classes from hadoop-common-3.1.3.jar. The steps are
// those of the real code paths, transcribed (classes named per step):
//   DataNode (BlockReceiver writes the client's chunk CRCs to the meta
//   file; BlockChecksumHelper.ReplicatedBlockChecksumComputer hashes them)
//   and client (FileChecksumHelper.FileChecksumComputer.compute,
//   makeMd5CrcResult, makeCompositeCrcResult; fs.shell.Display.Checksum).
// See testdata/checksum/README.md for how to run it.
import java.nio.ByteBuffer;
import org.apache.hadoop.fs.CompositeCrcFileChecksum;
import org.apache.hadoop.fs.FileChecksum;
import org.apache.hadoop.fs.MD5MD5CRC32CastagnoliFileChecksum;
import org.apache.hadoop.fs.MD5MD5CRC32GzipFileChecksum;
import org.apache.hadoop.io.DataOutputBuffer;
import org.apache.hadoop.io.MD5Hash;
import org.apache.hadoop.util.CrcComposer;
import org.apache.hadoop.util.CrcUtil;
import org.apache.hadoop.util.DataChecksum;
import org.apache.hadoop.util.StringUtils;

public class HadoopChecksums {
  // The fixture bytes: x = x*1664525 + 1013904223 (mod 2^32), byte = x>>>24.
  static byte[] data(int n, int seed) {
    byte[] b = new byte[n];
    int x = seed;
    for (int i = 0; i < n; i++) {
      x = x * 1664525 + 1013904223;
      b[i] = (byte) (x >>> 24);
    }
    return b;
  }

  public static void main(String[] args) throws Exception {
    String name = args[0];
    int size = Integer.parseInt(args[1]);
    int blockSize = Integer.parseInt(args[2]);
    int seed = Integer.parseInt(args[3]);
    int bpc = 512; // dfs.bytes-per-checksum
    byte[] file = data(size, seed);
    System.out.println(name + "\t" + line(md5crc(file, blockSize, bpc)));
    System.out.println(name + "\t" + line(composite(file, blockSize, bpc)));
  }

  static String line(FileChecksum c) {
    // fs.shell.Display.Checksum.processPath
    return c.getAlgorithmName() + "\t" + StringUtils.byteToHexString(c.getBytes(), 0, c.getLength());
  }

  // The meta file's CRCs of one block: the client's chunk sums
  // (DataChecksum.calculateChunkedSums), stored as received.
  static byte[] blockCrcs(byte[] file, int off, int len, int bpc) {
    DataChecksum dc = DataChecksum.newDataChecksum(DataChecksum.Type.CRC32C, bpc);
    ByteBuffer sums = ByteBuffer.allocate(dc.getChecksumSize((len + bpc - 1) / bpc * bpc));
    dc.calculateChunkedSums(ByteBuffer.wrap(file, off, len).slice(), sums);
    return sums.array();
  }

  static FileChecksum md5crc(byte[] file, int blockSize, int bpc) throws Exception {
    if (file.length == 0) {
      // FileChecksumHelper.FileChecksumComputer.compute: no blocks.
      return new MD5MD5CRC32GzipFileChecksum(0, 0, MD5Hash.digest(new byte[32]));
    }
    DataOutputBuffer blockChecksumBuf = new DataOutputBuffer();
    int blocks = 0;
    long crcPerBlock = 0;
    for (int off = 0; off < file.length; off += blockSize, blocks++) {
      int len = Math.min(blockSize, file.length - off);
      byte[] crcs = blockCrcs(file, off, len, bpc);
      // BlockChecksumHelper: checksumWholeBlock, crcPerBlock from the meta length.
      MD5Hash blockMd5 = MD5Hash.digest(crcs);
      if (blocks == 0) {
        crcPerBlock = crcs.length / 4;
      }
      // FileChecksumHelper.populateBlockChecksumBuf
      blockMd5.write(blockChecksumBuf);
    }
    // setOrVerifyChecksumProperties: crcPerBlock only when there are several blocks.
    if (blocks == 1) {
      crcPerBlock = 0;
    }
    // makeMd5CrcResult: the MD5 of the whole backing array.
    return new MD5MD5CRC32CastagnoliFileChecksum(bpc, crcPerBlock, MD5Hash.digest(blockChecksumBuf.getData()));
  }

  static FileChecksum composite(byte[] file, int blockSize, int bpc) throws Exception {
    if (file.length == 0) {
      return new MD5MD5CRC32GzipFileChecksum(0, 0, MD5Hash.digest(new byte[32]));
    }
    CrcComposer fileComposer = CrcComposer.newCrcComposer(DataChecksum.Type.CRC32C, blockSize);
    for (int off = 0; off < file.length; off += blockSize) {
      int len = Math.min(blockSize, file.length - off);
      byte[] crcs = blockCrcs(file, off, len, bpc);
      // BlockChecksumHelper.computeCompositeCrc with stripeLength 0 (the block).
      CrcComposer block = CrcComposer.newStripedCrcComposer(DataChecksum.Type.CRC32C, bpc, len);
      long full = len / bpc;
      block.update(new java.io.DataInputStream(new java.io.ByteArrayInputStream(crcs)), full, bpc);
      if (len % bpc > 0) {
        block.update(CrcUtil.readInt(crcs, (int) full * 4), len % bpc);
      }
      byte[] blockCrc = block.digest();
      // makeCompositeCrcResult
      fileComposer.update(CrcUtil.readInt(blockCrc, 0), len);
    }
    return new CompositeCrcFileChecksum(CrcUtil.readInt(fileComposer.digest(), 0), DataChecksum.Type.CRC32C, bpc);
  }
}
