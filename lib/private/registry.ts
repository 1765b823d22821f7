/**
 * The per-mesh model registry. Weft has no App Mesh service to create resources in: every construct
 * adds a renderer for its model resource here, and the Mesh turns them into one MeshModel at synth,
 * validates it and compiles the node configs that config publish writes to S3.
 *
 * Renderers are called late (at synth) because `addListener`, `addBackend` and `addRoute` keep
 * changing a resource after it is constructed.
 */
import type * as s3 from 'aws-cdk-lib/aws-s3';
import type * as cloudmap from 'aws-cdk-lib/aws-servicediscovery';
import type { NodeConfig, TaskRegistryEntry } from '../../proxy/contracts';
import { compileMesh } from '../model/compile';
import { MeshValidationError, type ModelError } from '../model/errors';
import type { MeshModel, MeshResource, Resource } from '../model/schema';
import { validateMesh } from '../model/validate';
import { addToMeshModel, emptyMeshModel } from '../model/mesh-model';

/** The mesh model, and either its errors or its compiled node configs. */
export interface MeshCompilation {
  readonly model: MeshModel;
  readonly errors: readonly ModelError[];
  readonly configs: readonly NodeConfig[];
}

/** What the Mesh deploys for its nodes, as node and sidecar wiring needs it. */
export interface MeshPlane {
  /** The config bucket (node configs, trust bundle, task registry). */
  readonly bucket: s3.IBucket;
  /** ARN of the mesh CA; undefined when the mesh has no mTLS identities. */
  readonly certificateAuthorityArn?: string;
  /** Name of the mesh's Cloud Map namespace. */
  readonly namespaceName: string;
  /** The Cloud Map service `name` in the mesh's namespace, created on first use. */
  cloudMapService(name: string): cloudmap.IService;
  /** Lets discovery sync register and deregister instances in the Cloud Map service with this id (a token is fine). */
  allowRegistration(serviceId: string): void;
}

export class MeshRegistry {
  private static readonly registries = new WeakMap<object, MeshRegistry>();

  /** The registry of a Mesh defined in this app; imported meshes have none. */
  static of(mesh: { readonly meshName: string }, what: string): MeshRegistry {
    const registry = MeshRegistry.registries.get(mesh);
    if (!registry) {
      throw new Error(
        `${what}: mesh '${mesh.meshName}' is imported. Weft builds a mesh's model in the Mesh construct that defines it, ` +
          'so resources can only be added to a Mesh defined in this CDK app (pass that Mesh object across stacks)',
      );
    }
    return registry;
  }

  static attach(mesh: object, registry: MeshRegistry): void {
    MeshRegistry.registries.set(mesh, registry);
  }

  private readonly renderers: (() => Resource)[] = [];
  private readonly families = new Map<string, { node: string; entry: () => TaskRegistryEntry }>();
  private cached?: MeshCompilation;

  constructor(
    readonly meshName: string,
    private readonly renderMesh: () => MeshResource,
    readonly plane: MeshPlane,
  ) {}

  cloudMapService(name: string): cloudmap.IService {
    return this.plane.cloudMapService(name);
  }

  /** Adds a resource; `render` runs at synth. */
  add(render: () => Resource): void {
    this.renderers.push(render);
    this.cached = undefined;
  }

  /** Forgets the cached compilation after a resource changed (a listener, backend or route was added). */
  touch(): void {
    this.cached = undefined;
  }

  /** Maps an ECS task definition family to a node for discovery sync (see TaskRegistrySchema). */
  addTaskFamily(family: string, node: string, entry: () => TaskRegistryEntry): void {
    const existing = this.families.get(family);
    if (existing && existing.node !== node) {
      throw new Error(`task definition family '${family}' already runs virtual node '${existing.node}'; one family can run one node, got: '${node}'`);
    }
    this.families.set(family, { node, entry });
    this.plane.allowRegistration(entry().cloudMap.serviceId);
  }

  get taskFamilies(): ReadonlyMap<string, { node: string; entry: () => TaskRegistryEntry }> {
    return this.families;
  }

  /** The whole mesh as the model front ends produce it. */
  model(): MeshModel {
    const model = emptyMeshModel(this.renderMesh());
    for (const render of this.renderers) {
      const r = render();
      if (r.kind === 'Mesh') throw new Error('a mesh cannot contain another mesh');
      addToMeshModel(model, r);
    }
    return model;
  }

  /** Validates and compiles once per synth (the result is reused by every lazy value). */
  compile(): MeshCompilation {
    if (this.cached) return this.cached;
    const model = this.model();
    let errors: readonly ModelError[] = validateMesh(model);
    let configs: readonly NodeConfig[] = [];
    if (errors.length === 0) {
      try {
        configs = compileMesh(model);
      } catch (err) {
        if (!(err instanceof MeshValidationError)) throw err;
        errors = err.errors;
      }
    }
    this.cached = { model, errors, configs };
    return this.cached;
  }

  /** The compiled config of one node or gateway; throws when the mesh is invalid. */
  nodeConfig(name: string): NodeConfig | undefined {
    const result = this.compile();
    if (result.errors.length > 0) throw new MeshValidationError(result.errors);
    return result.configs.find((c) => c.node.name === name);
  }
}
