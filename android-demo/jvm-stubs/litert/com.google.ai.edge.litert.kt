// API stub of LiteRT's Kotlin package com.google.ai.edge.litert, for the JVM type-check of the app layer
// (jvm-runner/AppLayerCompileTest.kt, run by android-demo/run-jvm-tests.sh). NOT part of the app: Gradle compiles
// MainActivity/TfliteClassifier against the real com.google.ai.edge.litert:litert AAR. Every body throws; only the
// public signatures matter (names, parameter types, nullability, defaults, visibility).
//
// Signatures copied from google-ai-edge/LiteRT at tag v2.2.0 (commit 145c7523ff08d5e57ab5c582141775eea47da9c7) and
// checked unchanged at the main head f67457790c9c2ab67347d6fe53270e8d3df20868 (litert/version.bzl: 2.3.0, the
// development head; no v2.3.0 tag was in the repository read). Files, all under
// litert/kotlin/src/main/kotlin/com/google/ai/edge/litert/, with their git blob ids (identical at both commits):
//   Model.kt            13e945b31f072d9ea77f11b1b1eb235766ac23f4  TensorType, CompiledModel, CompiledModel.CpuOptions,
//                                                                 CompiledModel.Options
//   TensorBuffer.kt     33d89045e7506a05d53ed8e0675d61ae642288fa  TensorBuffer, TensorBufferType, TensorBufferRequirements
//   Common.kt           ae4d2fb3c153c5931127451f9aad56a67c5813f2  Accelerator, JniHandle
//   LiteRtException.kt  69d30f4d046845e326e3c5091e15c6c9d72a51b2  LiteRtException, Status (4 of its entries)
//   Environment.kt      (class header only: the app passes no Environment; the blob differs between the two commits
//                        only in Option entries and comments, none of which the app uses)
// In 2.0.x (e.g. v2.0.3) the `signature` parameters below were `String? = null`; since v2.1.0 they are `String = ""`
// ("" = the model's first signature, litert/cc/litert_compiled_model.h GetSignatureIndex) and the JNI layer
// ABSL_CHECKs the string is non-null.
//
// Left out on purpose (the app uses none of them and they take no part in resolving the calls it makes):
// CompiledModel.GpuOptions, CompiledModel.QualcommOptions and the Options properties of those types, the rest of
// Environment and Status, ModelProvider/AcceleratorProvider, the deployment package.
// Original code: Copyright 2025 Google LLC, Apache License 2.0.
@file:Suppress("UNUSED_PARAMETER", "unused", "RedundantVisibilityModifier")

package com.google.ai.edge.litert

import android.content.res.AssetManager

private fun stub(): Nothing = throw UnsupportedOperationException("LiteRT API stub: compile-time only")

// ---- Common.kt

enum class Accelerator private constructor(val value: Int) {
  NONE(0),
  CPU(1),
  GPU(2),
  NPU(3);
}

abstract class JniHandle internal constructor(internal val handle: Long) : AutoCloseable {
  protected fun assertNotDestroyed(): Unit = stub()

  protected abstract fun destroy()

  override final fun close(): Unit = stub()
}

// ---- LiteRtException.kt

class LiteRtException(private val status: Status, message: String) : Exception(message) {
  constructor(code: Int, message: String) : this(Status.Ok, message)
}

enum class Status(val code: Int) {
  Ok(0),
  ErrorInvalidArgument(1),
  ErrorRuntimeFailure(3),
  ErrorNotFound(6),
}

// ---- Environment.kt (class header only)

class Environment private constructor(handle: Long) : JniHandle(handle) {
  override protected fun destroy(): Unit = stub()
}

// ---- TensorBuffer.kt

class TensorBuffer internal constructor(handle: Long) : JniHandle(handle) {
  @Throws(LiteRtException::class) fun writeInt(data: IntArray): Unit = stub()

  @Throws(LiteRtException::class) fun writeFloat(data: FloatArray): Unit = stub()

  @Throws(LiteRtException::class) fun writeInt8(data: ByteArray): Unit = stub()

  @Throws(LiteRtException::class) fun writeBoolean(data: BooleanArray): Unit = stub()

  @Throws(LiteRtException::class) fun writeLong(data: LongArray): Unit = stub()

  @Throws(LiteRtException::class) fun readInt(): IntArray = stub()

  @Throws(LiteRtException::class) fun readFloat(): FloatArray = stub()

  @Throws(LiteRtException::class) fun readInt8(): ByteArray = stub()

  @Throws(LiteRtException::class) fun readBoolean(): BooleanArray = stub()

  @Throws(LiteRtException::class) fun readLong(): LongArray = stub()

  protected override fun destroy(): Unit = stub()
}

enum class TensorBufferType(private val type: Int) {
  Unknown(0),
  HostMemory(1),
  Ahwb(2),
  Ion(3),
  DmaBuf(4),
  FastRpc(5),
  GlBuffer(6),
  GlTexture(7),
  OpenClBuffer(10),
  OpenClBufferFp16(11),
  OpenClTexture(12),
  OpenClTextureFp16(13),
  OpenClBufferPacked(14),
  OpenClImageBuffer(15),
  OpenClImageBufferFp16(16),
  WebGpuBuffer(20),
  WebGpuBufferFp16(21),
  WebGpuTexture(22),
  WebGpuTextureFp16(23),
  WebGpuImageBuffer(24),
  WebGpuImageBufferFp16(25),
  WebGpuBufferPacked(26),
  VulkanBuffer(40),
  VulkanBufferFp16(41),
  VulkanTexture(42),
  VulkanTextureFp16(43),
  VulkanImageBuffer(44),
  VulkanImageBufferFp16(45),
  VulkanBufferPacked(46);

  companion object {
    fun of(type: Int): TensorBufferType = stub()
  }
}

data class TensorBufferRequirements
constructor(
  val supportedTypes: List<TensorBufferType>,
  val bufferSize: Int,
  val strides: List<Int>,
) {
  constructor(supportedTypes: IntArray, bufferSize: Int, strides: IntArray) : this(emptyList(), bufferSize, emptyList())
}

// ---- Model.kt

data class TensorType
@JvmOverloads
constructor(val elementType: ElementType, val layout: Layout? = null) {
  enum class ElementType {
    INT,
    FLOAT,
    INT8,
    BOOLEAN,
    INT64,
  }

  data class Layout
  @JvmOverloads
  constructor(val dimensions: List<Int>, val strides: List<Int> = listOf()) {
    @JvmOverloads
    constructor(dimensions: IntArray, strides: IntArray = intArrayOf()) : this(dimensions.toList(), strides.toList())

    val rank: Int
      get() = stub()

    val hasStrides: Boolean
      get() = stub()
  }
}

class CompiledModel
private constructor(
  handle: Long,
  private val env: Environment,
  private val envManaged: Boolean = false,
) : JniHandle(handle) {

  data class CpuOptions
  constructor(
    val numThreads: Int? = null,
    val xnnPackFlags: Int? = null,
    val xnnPackWeightCachePath: String? = null,
  )

  class Options constructor(internal val accelerators: Set<Accelerator>) {
    constructor(vararg accelerators: Accelerator) : this(setOf(*accelerators))

    var cpuOptions: CpuOptions? = null

    companion object {
      @JvmStatic val CPU: Options = stub()
    }
  }

  @Throws(LiteRtException::class)
  fun createInputBuffer(inputName: String, signature: String = ""): TensorBuffer = stub()

  @Throws(LiteRtException::class)
  fun getInputBufferRequirements(inputName: String, signature: String = ""): TensorBufferRequirements = stub()

  @Throws(LiteRtException::class)
  fun createOutputBuffer(outputName: String, signature: String = ""): TensorBuffer = stub()

  @Throws(LiteRtException::class)
  fun getOutputBufferRequirements(outputName: String, signature: String = ""): TensorBufferRequirements = stub()

  @Throws(LiteRtException::class)
  @JvmOverloads
  fun createInputBuffers(signatureIndex: Int = 0): List<TensorBuffer> = stub()

  @Throws(LiteRtException::class)
  fun createInputBuffers(signature: String): List<TensorBuffer> = stub()

  @Throws(LiteRtException::class)
  @JvmOverloads
  fun createOutputBuffers(signatureIndex: Int = 0): List<TensorBuffer> = stub()

  @Throws(LiteRtException::class)
  fun createOutputBuffers(signature: String): List<TensorBuffer> = stub()

  @Throws(LiteRtException::class)
  @JvmOverloads
  fun run(inputs: List<TensorBuffer>, signatureIndex: Int = 0): List<TensorBuffer> = stub()

  @Throws(LiteRtException::class)
  fun run(inputs: List<TensorBuffer>, signature: String): List<TensorBuffer> = stub()

  @Throws(LiteRtException::class)
  @JvmOverloads
  fun run(inputs: List<TensorBuffer>, outputs: List<TensorBuffer>, signatureIndex: Int = 0): Unit = stub()

  @Throws(LiteRtException::class)
  fun run(inputs: List<TensorBuffer>, outputs: List<TensorBuffer>, signature: String): Unit = stub()

  @Throws(LiteRtException::class)
  fun run(
    inputs: Map<String, TensorBuffer>,
    outputs: Map<String, TensorBuffer>,
    signature: String = "",
  ): Unit = stub()

  fun getInputTensorType(inputName: String, signature: String = ""): TensorType = stub()

  fun getOutputTensorType(outputName: String, signature: String = ""): TensorType = stub()

  override fun destroy(): Unit = stub()

  companion object {
    @Throws(LiteRtException::class)
    @JvmOverloads
    @JvmStatic
    fun create(
      assetManager: AssetManager,
      assetName: String,
      options: Options = Options.CPU,
      optionalEnv: Environment? = null,
    ): CompiledModel = stub()

    @Throws(LiteRtException::class)
    @JvmOverloads
    @JvmStatic
    fun create(
      filePath: String,
      options: Options = Options.CPU,
      optionalEnv: Environment? = null,
    ): CompiledModel = stub()
  }
}
